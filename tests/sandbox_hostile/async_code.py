# expect: refused async
async def f():
    pass
