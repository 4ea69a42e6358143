# expect: refused class definitions
class Evil:
    pass
