locals {
  a = "x ${ var.a[ 0 ] } ${var.b ["k"]} ${ foo(1,2) }"
  b = "%{ for i, v in var.l ~} ${i}=${v} %{~ endfor }"
  c = "escaped \" quote ${ "inner ${ deep } string" }"
  d = "${var.a}${var.b}"
  e = "\\${not}"
  f = "${ a - 1 }${ -a }"
  g = "${ cond ? "a" : "b" }"
}
