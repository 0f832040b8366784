source /* c */ "a" "b" {
  n1 = 1.5e+3
  n2 = 01
  o = { for k, v in var.m : k => v... if v != null }
  s1 = var.l[*].id
  s2 = var.l.*.id
  c = (var.a ?
    "yes" : "no")
  d = (
    1
    + 2
  )
  e = !!true
  f = - - 1
  g = [
    for x in var.l :
    x
  ]
  h = <<-EOT
	tab indented ${var.x}
	%{~ if true ~}
	yes
	%{~ else ~}
	no
	%{~ endif ~}
	EOT
  i = { "a.b" = 1, (var.k) = 2 }
  j = null
  k = "\u00e9\t\"${"\\"}"
}
empty "" {}
