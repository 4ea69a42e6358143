# expect: refused
def f():
    pass
g = f.__globals__
