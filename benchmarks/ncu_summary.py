import csv, sys, collections
# usage: ncu_summary.py CSV N [TOP]: the last N kernel launches of an ncu --csv
# gpu__time_duration.sum run, summed by kernel name (benchmarks/profile_decode.sh);
# TOP > 0 also lists the TOP slowest single launches.
rows = list(csv.reader(open(sys.argv[1])))
n = int(sys.argv[2])
hdr = None; recs = []
for r in rows:
    if 'Kernel Name' in r and 'Metric Value' in r:
        hdr = r; continue
    if hdr is None or len(r) != len(hdr): continue
    d = dict(zip(hdr, r))
    if d.get('Metric Name') != 'gpu__time_duration.sum': continue
    v = float(d['Metric Value'].replace(',', ''))
    unit = d.get('Metric Unit', 'nsecond')
    v = v * {'nsecond': 1e-3, 'ns': 1e-3, 'usecond': 1, 'us': 1, 'msecond': 1e3, 'ms': 1e3}.get(unit, 1e-3)
    recs.append((int(d['ID']), d['Kernel Name'], v, d.get('Grid Size', ''), d.get('Block Size', '')))
recs.sort()
recs = recs[-n:]
tot = collections.Counter(); cnt = collections.Counter(); grid = {}
for _, k, v, g, b in recs:
    tot[k] += v; cnt[k] += 1; grid[k] = g + ' ' + b
s = sum(tot.values())
print(f"last {len(recs)} launches: total kernel time {s:.1f} us")
for k, v in tot.most_common(30):
    print(f"{v:9.1f} us {100*v/s:5.1f}%  x{cnt[k]:<4} {k:28s} {grid[k]}")
top = int(sys.argv[3]) if len(sys.argv) > 3 else 0
if top:
    print(f"slowest {top} launches:")
    for i, k, v, g, b in sorted(recs, key=lambda r: -r[2])[:top]:
        print(f"{v:9.1f} us  #{i:<6} {k:28s} {g} {b}")
