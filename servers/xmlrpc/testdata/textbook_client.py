"""The textbook's XML-RPC client calls, made with Python's own xmlrpc.client
against the server at http://ADDR/RPC2 (argv[1]). One line per call: the
repr of what ServerProxy returned, or of the Fault it raised."""
import sys
import xmlrpc.client

proxy = xmlrpc.client.ServerProxy('http://%s/RPC2' % sys.argv[1])


def show(f, *args):
    try:
        v = f(*args)
        print(repr(v.data if isinstance(v, xmlrpc.client.Binary) else v))
    except xmlrpc.client.Fault as e:
        print(repr(e))


show(proxy.addtogether, 'x', 'y', 'z')
show(proxy.addtogether, 1, 2, 3, 4, 5)
show(proxy.addtogether, 'x', 1)
show(proxy.quadratic, 1, 2, 1)
show(proxy.quadratic, 2, -4, 0)
show(proxy.quadratic, 1, 0, 1)
show(proxy.upper, 'hello, wörld')
show(proxy.upper, xmlrpc.client.Binary(b'a\xffb'))
show(proxy.system.listMethods)
show(proxy.system.methodHelp, 'addtogether')
show(proxy.system.methodSignature, 'quadratic')
show(proxy.nope)

multi = xmlrpc.client.MultiCall(proxy)
multi.addtogether('a', 'b')
multi.quadratic(1, -3, 2)
multi.upper('multi')
multi.quadratic(0, 1, 1)
results = multi()
out = []
for i in range(4):
    try:
        out.append(repr(results[i]))
    except xmlrpc.client.Fault as e:
        out.append(repr(e))
print(', '.join(out))
