"""The textbook's XML-RPC server: SimpleXMLRPCServer with introspection,
multicall, addtogether and quadratic exactly as the textbook writes them
(quadratic divides by 2 and then multiplies by a). It listens on
127.0.0.1:0 and prints its port on the first line of stdout; it stops when
stdin closes."""
import math
import operator
import sys
import threading
from functools import reduce
from xmlrpc.server import SimpleXMLRPCServer


def addtogether(*things):
    """Add together everything in the list `things`."""
    return reduce(operator.add, things)


def quadratic(a, b, c):
    """Determine `x` values satisfying: `a` * x*x + `b` * x + c == 0"""
    b24ac = math.sqrt(b*b - 4.0*a*c)
    return list(set([(-b-b24ac) / 2.0*a,
                     (-b+b24ac) / 2.0*a]))


def remote_repr(arg):
    """Return the `repr()` rendering of the supplied `arg`."""
    return arg


server = SimpleXMLRPCServer(('127.0.0.1', 0), logRequests=False)
server.register_introspection_functions()
server.register_multicall_functions()
server.register_function(addtogether)
server.register_function(quadratic)
server.register_function(remote_repr)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
