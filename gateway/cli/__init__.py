import sys
p=sys.argv[1]; s=open(p).read()
old='from gateway.cli.dlq import dlq_app\n'
assert s.count(old)==1
s=s.replace(old, old+'from gateway.cli.evaluation import evaluation_app\nfrom gateway.cli.linking import linking_app\n')
old='app.add_typer(dlq_app, name="dlq")\n'
assert s.count(old)==1
s=s.replace(old, old+'app.add_typer(evaluation_app, name="evaluation")\napp.add_typer(linking_app, name="linking")\n')
open(p,'w').write(s)
