# expect: stopped ZeroDivisionError
x = 1
y = x / 0
