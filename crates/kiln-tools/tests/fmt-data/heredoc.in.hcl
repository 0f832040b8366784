build {
  provisioner "shell" {
      inline = [<<EOF
echo ${var.x}
    indented ${ upper("y") }
EOF
    ]
  }
  provisioner "file" {
    content = <<-EOT
      hello
        world %{ for x in y }${x}%{ endfor }
      EOT
    destination = "/tmp/x"
  }
  x=<<A
A
  y = 1
}
