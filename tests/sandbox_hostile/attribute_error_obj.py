# expect: stopped not allowed
try:
    data.nothing_here
except Exception as e:
    leak = e.obj
