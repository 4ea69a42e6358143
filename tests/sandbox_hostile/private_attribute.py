# expect: refused
arr = data.values._array
