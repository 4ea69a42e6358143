# expect: stopped not allowed
view = {"a": 1}.keys()
m = view.mapping
