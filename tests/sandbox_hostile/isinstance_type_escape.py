# expect: stopped not allowed
k = int
m = k.mro
