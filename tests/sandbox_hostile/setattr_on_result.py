# expect: stopped cannot be changed
result.flag = None
