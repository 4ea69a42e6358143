# expect: stopped not allowed
try:
    data.values.frobnicate
except Exception as e:
    leak = e.args
