# expect: stopped not allowed
v = data.values
x = v.tofile
