# expect: stopped memory limit
big = [0] * (10 ** 10)
