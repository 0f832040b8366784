x "l1" l2 {
  a = 1
}
y { z = 1 }
w {
}
