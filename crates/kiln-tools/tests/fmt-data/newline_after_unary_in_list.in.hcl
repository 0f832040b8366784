a = [
  1, !
  true, - # c
  2, (
  3
  )
]
b = foo(!
  x)
