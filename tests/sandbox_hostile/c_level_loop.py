# expect: stopped wall time limit
x = sum(range(10 ** 12))
