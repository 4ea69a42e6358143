# expect: refused
__builtins__ = {}
x = len([])
