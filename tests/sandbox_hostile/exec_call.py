# expect: refused
exec("x = 1")
