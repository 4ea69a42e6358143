# expect: ok
print(data)
print(result)
