# expect: refused global
def f():
    global data
    data = None
