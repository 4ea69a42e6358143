# expect: refused
_getattr_ = lambda obj, name: getattr(obj, name)
