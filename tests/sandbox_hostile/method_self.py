# expect: refused
f = data.values.sum
owner = f.__self__ if False else f.im_self
