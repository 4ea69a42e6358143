# expect: refused
try:
    1 / 0
except ZeroDivisionError as e:
    tb = e.__traceback__
