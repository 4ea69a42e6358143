# expect: stopped refused
result.flag(10 ** 9, "out of range")
