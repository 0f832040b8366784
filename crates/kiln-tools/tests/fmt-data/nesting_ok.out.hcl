source "qemu" "x" {
  qemuargs = [
    ["-m", "1024"],
    ["-smp", "2"]
  ]
  boot_command = ["<esc>", "<wait>",
  "linux ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg<enter>"]
  a = foo(
    1,
    bar(2,
    3),
  )
  empty {}
  b = {
    c = {
      d = [
        { e = 1 },
      ]
    }
  }
}
dynamic "x" {
  for_each = var.xs
  content {
    y = x.value
  }
}
