# expect: refused str.format is not allowed
text = "{0.__class__}".format(1)
