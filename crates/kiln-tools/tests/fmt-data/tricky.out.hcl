locals {
  a = "${foo(
    1,
  2)}"
  b = foo(<<EOF
  x ${y} %{if z}{%{endif}
EOF
  , 2)
  c = [<<A
a
A
    , <<B
b
B
  ]
  /* lead */ d = 1
  e = { # c
    f = 1, g = 2
  }
  h   = [for x in [1] : x]
  tab = "x	y"
  i = [
    1, [
      2,
    ], 3
  ]
  j = [
    { k = 1 },
  { l = 2 }]
  k   = 1           #c
  lll = 2           //c
  m   = "a" /* c */ # d
  n = foo(1,        # x
  2)
  o = "%{for x in [1]}${x}%{endfor}"
  p = "${ { a = 1 } }"
}
