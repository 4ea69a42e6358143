# expect: refused import is not allowed
from subprocess import run
