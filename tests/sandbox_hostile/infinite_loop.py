# expect: stopped CPU time limit
x = 0
while True:
    x = x + 1
