locals {
  a = [for s in var.list : upper(s) if s != ""]
  b = {for s in var.list : s => upper(s)}
  c = [for k, v in var.map : "${k}=${v}"]
  d = var.x == null ? "default" : var.x
  e = !var.flag
  f = !(a && b)
  g = - var.n
  h = 2 - 1
  i = [-1, - 2, 3 - -4]
  j = foo[-1]
  k = a.b[0].c
  l = a[*]
  m = tolist(["a"])[0]
  n = { "a" = 1, b = 2 }
  o = 1.5e10 + 0.1
  p = a ? b : c ? d : e
  q = (a)
  r = [ [ 1 ], [ 2 ] ]
  s = try(var.a.b, null)
  t = format("%s-%d", "a", 1)
  u = [ for x in [ 1 ] : x ]
  v = { for x in [ 1 ] : x => x if x > 0 }
  x = a . b
  y = f ( ) 
  z = [a, b,]
}
