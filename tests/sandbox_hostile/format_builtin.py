# expect: refused
x = format(1, "x")
