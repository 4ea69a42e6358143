# expect: refused eval
eval("1+1")
