# expect: refused bare
while True:
    try:
        x = 1
    except:
        pass
