# expect: ok
result = 5
x = result + 1
