a = <<EOF
EOF

x
EOF
