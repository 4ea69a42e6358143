# expect: stopped memory limit
s = "x" * (10 ** 10)
