a = "${foo"
