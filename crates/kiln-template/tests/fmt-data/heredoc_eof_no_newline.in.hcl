a = <<EOF
xx
EOF