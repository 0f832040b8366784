a = <<EOF
xx
