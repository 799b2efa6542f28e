#!/usr/bin/env python3
"""Tier agreement of two runs (issue 7's acceptance check), from their results.json "summary":
(a) pairs of architectures placed in strictly ordered, different tiers in opposite orders by the two runs;
(b) of the pairs whose ranking metric (msg/s; p90 in open-loop scenarios, p99 in results from before
p90_us existed) differs by 15% or more in both
runs, the share that is in different tiers in both.
usage: scripts/tier-agreement.py RUN_A/results.json RUN_B/results.json"""
import json,sys,itertools
def load(p):
    r=json.load(open(p))
    out={}
    for e in r['summary']:
        out[(e['scenario'],e['arch'])]=e
    return out
a=load(sys.argv[1]); b=load(sys.argv[2])
openloop=set()
for p in sys.argv[1:3]:
    for sc in json.load(open(p))['scenarios']:
        if sc['load'].get('rate',0)>0 or (sc.get('rate_sweep') or {}).get('fraction',0)>0:
            openloop.add(sc['name'])
scen=sorted({k[0] for k in a})
opp=[];sep_ok=0;sep_tot=0;pairs=0
per={}
for sc in scen:
    archs=sorted({k[1] for k in a if k[0]==sc} & {k[1] for k in b if k[0]==sc})
    for x,y in itertools.combinations(archs,2):
        ea,fa,eb,fb=a[(sc,x)],a[(sc,y)],b[(sc,x)],b[(sc,y)]
        if not all(e['tier'] for e in (ea,fa,eb,fb)): continue
        pairs+=1
        da=ea['tier']-fa['tier']; db=eb['tier']-fb['tier']
        if da*db<0: opp.append((sc,x,y,ea['tier'],fa['tier'],eb['tier'],fb['tier']))
        m='rps'
        if sc in openloop:
            m='p90_us' if 'p90_us' in ea else 'p99_us'
        def diff(e,f):
            u,v=e[m]['median'],f[m]['median']
            return abs(u-v)/min(u,v) if min(u,v)>0 else 0
        if diff(ea,fa)>=0.15 and diff(eb,fb)>=0.15:
            sep_tot+=1
            c=per.setdefault(sc,[0,0]); c[1]+=1
            if da!=0 and db!=0: sep_ok+=1; c[0]+=1
print("pairs compared:",pairs)
print("(a) pairs in opposite strict tier orders:",len(opp))
for o in opp: print("   ",o)
print("(b) pairs >=15%% apart in both runs: %d, in different tiers in both: %d (%.0f%%)"%(sep_tot,sep_ok,100*sep_ok/max(sep_tot,1)))
for sc in scen:
    if sc in per: print("    %-24s %d of %d"%(sc,per[sc][0],per[sc][1]))
