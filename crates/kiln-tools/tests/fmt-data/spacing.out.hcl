locals {
  a = 1 + 2 * 3
  b = -1
  c = ! true
  d = a == b && c || d
  e = foo(1, 2, 3)
  f = [for x in [1, 2] : x * 2 if x > 1]
  g = { for k, v in var.m : k => v... }
  h = var.list[0]
  i = var.list[*].id
  j = var.obj.*.name
  k = cond ? 1 : -2
  l = (1 + 2) * 3
  m = a - -b
  n = x-1
  o = foo(var.list...)
  p = { a = 1, b = 2 }
  q = {}
  r = []
  s = (-1)
  t = 1 % 2 / 3
  u = a >= b || a <= b || a < b || a > b || a != b
  v = "${foo} and %{if x}y%{else}z%{endif} $${lit} %%{lit}"
  w = "${~foo~}"
  x = "${ { a = 1 } }"
  y = upper("x")[0]
  z = [1, 2, 3][1]
}
