# expect: stopped not allowed
def f():
    return 1
c = f.func_code if False else f.gi_running
