# expect: stopped refused
result.estimate([0], 1e400)
