#include "control/observability/dashboard_page.h"

namespace halyard::control {

namespace {

constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Halyard mesh</title>
<style>
body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:1.5em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
.bad{color:#b00}#traces tbody tr{cursor:pointer}#waterfall .bar{height:12px;background:#69c}
#traces td,#spans td{white-space:nowrap;font-size:12px}
#waterfall .bar.err{background:#c33}#waterfall td.span-bar{width:420px;position:relative}.ok{color:#070}svg text{font-size:11px}
#graph{border:1px solid #ddd}
</style></head><body>
<h1>Halyard mesh <span id="version"></span></h1>
<div id="status">loading...</div>
<h2>Service graph</h2>
<svg id="graph" width="760" height="420"></svg>
<table id="edges"><thead><tr><th>source</th><th>destination</th><th>service</th><th>req/s</th>
<th>error %</th><th>requests</th><th>mTLS</th></tr></thead><tbody></tbody></table>
<h2>Golden signals per service</h2>
<table id="services"><thead><tr><th>service</th><th>req/s</th><th>error %</th><th>p99 ms</th>
<th>requests</th><th>5xx</th><th>req/s, last minutes</th></tr></thead><tbody></tbody></table>
<h2>Proxies</h2>
<table id="proxies"><thead><tr><th>proxy</th><th>role</th><th>version</th><th>config</th>
<th>last answer</th><th>certificate until</th><th>scraped</th></tr></thead><tbody></tbody></table>
<h2>Quarantined objects</h2>
<table id="quarantined"><thead><tr><th>object</th><th>where</th><th>problem</th></tr></thead>
<tbody></tbody></table>
<h2>Security: recent denials</h2>
<table id="denials"><thead><tr><th>source</th><th>principal</th><th>destination</th>
<th>code</th><th>count</th></tr></thead><tbody></tbody></table>
<h2>Recent traces</h2>
<div id="traces-note"></div>
<div id="waterfall"></div>
<table id="traces"><thead><tr><th>trace id</th><th>root service</th><th>operation</th>
<th>duration ms</th><th>spans</th><th>errors</th><th>services</th></tr></thead><tbody></tbody></table>
<script>
function cell(v){const td=document.createElement('td');td.textContent=(v===null||v===undefined)?'-':v;return td;}
function fill(id,rows){const tb=document.querySelector('#'+id+' tbody');tb.replaceChildren();
 for(const r of rows){const tr=document.createElement('tr');
  for(const v of r.cells)tr.appendChild(cell(v));if(r.cls)tr.className=r.cls;
  if(r.data)for(const[k,v]of Object.entries(r.data))tr.dataset[k]=v;tb.appendChild(tr);}}
function spark(h){const ns='http://www.w3.org/2000/svg',svg=document.createElementNS(ns,'svg');
 svg.setAttribute('width','160');svg.setAttribute('height','24');svg.setAttribute('class','spark');
 const v=h.map(x=>x[1]||0),m=Math.max(...v,1e-9),pts=v.map((y,i)=>
  (v.length<2?0:160*i/(v.length-1)).toFixed(1)+','+(22-20*y/m).toFixed(1)).join(' ');
 const l=document.createElementNS(ns,'polyline');l.setAttribute('points',pts);l.setAttribute('fill','none');
 l.setAttribute('stroke',h.some(x=>x[2]>0)?'#c00':'#369');svg.appendChild(l);return svg;}
function num(v,d){return v===null||v===undefined?null:Number(v).toFixed(d);}
function draw(edges){const svg=document.getElementById('graph');svg.replaceChildren();
 const names=[...new Set(edges.flatMap(e=>[e.source,e.destination]))];
 const W=760,H=420,R=160,pos={};
 names.forEach((n,i)=>{const a=2*Math.PI*i/Math.max(names.length,1);
  pos[n]=[W/2+R*Math.cos(a),H/2+R*Math.sin(a)];});
 const ns='http://www.w3.org/2000/svg';
 for(const e of edges){const[a,b]=[pos[e.source],pos[e.destination]];
  const l=document.createElementNS(ns,'line');l.setAttribute('x1',a[0]);l.setAttribute('y1',a[1]);
  l.setAttribute('x2',b[0]);l.setAttribute('y2',b[1]);l.setAttribute('class','edge');
  l.setAttribute('stroke',e.error_percent>0?'#c00':'#393');l.setAttribute('stroke-width','2');
  if(!e.mtls)l.setAttribute('stroke-dasharray','5,4');
  l.dataset.source=e.source;l.dataset.destination=e.destination;svg.appendChild(l);
  const t=document.createElementNS(ns,'text');t.setAttribute('x',(a[0]+b[0])/2);
  t.setAttribute('y',(a[1]+b[1])/2-4);t.setAttribute('class','edge-label');
  t.textContent=(e.rps===null?e.requests+' req':num(e.rps,1)+' req/s')+
   (e.error_percent?' '+num(e.error_percent,1)+'% err':'')+(e.mtls?' mTLS':'');
  svg.appendChild(t);}
 for(const n of names){const g=document.createElementNS(ns,'g');g.setAttribute('class','node');
  g.dataset.name=n;const c=document.createElementNS(ns,'circle');c.setAttribute('cx',pos[n][0]);
  c.setAttribute('cy',pos[n][1]);c.setAttribute('r','22');c.setAttribute('fill','#def');
  c.setAttribute('stroke','#369');const t=document.createElementNS(ns,'text');
  t.setAttribute('x',pos[n][0]);t.setAttribute('y',pos[n][1]+36);t.setAttribute('text-anchor','middle');
  t.textContent=n;g.appendChild(c);g.appendChild(t);svg.appendChild(g);}}
async function showTrace(id){const w=document.getElementById('waterfall');
 const t=await (await fetch('/api/traces/'+encodeURIComponent(id))).json();
 if(!t.spans){w.textContent='trace '+id+' is no longer kept';return;}
 const start=Math.min(...t.spans.map(s=>s.start_us)),
  end=Math.max(...t.spans.map(s=>s.start_us+s.duration_us)),total=Math.max(end-start,1);
 const depth={};for(const s of t.spans)depth[s.id]=s.parent_id&&depth[s.parent_id]!==undefined?depth[s.parent_id]+1:0;
 const table=document.createElement('table');table.id='spans';table.dataset.trace=id;
 const head=document.createElement('tr');for(const h of['service','span','kind','start ms','duration ms',''])
  {const th=document.createElement('th');th.textContent=h;head.appendChild(th);}table.appendChild(head);
 for(const s of t.spans){const tr=document.createElement('tr');tr.className='span';tr.dataset.service=s.service;
  tr.dataset.span=s.id;tr.dataset.parent=s.parent_id;
  const name=cell('\u00a0'.repeat(2*(depth[s.id]||0))+s.name);
  for(const td of[cell(s.service),name,cell(s.kind),cell(((s.start_us-start)/1000).toFixed(2)),
   cell((s.duration_us/1000).toFixed(2))])tr.appendChild(td);
  const bar=document.createElement('td');bar.className='span-bar';const b=document.createElement('div');
  b.className='bar'+(s.error?' err':'');b.style.marginLeft=(100*(s.start_us-start)/total)+'%';
  b.style.width=Math.max(0.5,100*s.duration_us/total)+'%';bar.appendChild(b);tr.appendChild(bar);
  table.appendChild(tr);}
 const title=document.createElement('h3');title.textContent='Trace '+id;w.replaceChildren(title,table);
 document.body.dataset.trace=id;}
async function refreshTraces(){const r=await (await fetch('/api/traces')).json();
 document.getElementById('traces-note').textContent=r.traces.length?'':
  'No spans received. The control plane collects spans (POST /api/v2/spans on this address) when '+
  'it runs with --trace-collector (as under halyard up) and MeshConfig declares no tracing provider.';
 fill('traces',r.traces.slice(0,15).map(t=>({cells:[t.trace_id,t.root_service,t.root_name,
  num(t.duration_us/1000,2),t.spans,t.errors,t.services.join(', ')],cls:t.errors?'bad':'',
  data:{trace:t.trace_id}})));
 document.querySelectorAll('#traces tbody tr').forEach(tr=>tr.onclick=()=>showTrace(tr.dataset.trace));
 const m=location.hash.match(/trace=([0-9a-f]+)/);
 if(m&&document.body.dataset.trace!==m[1])await showTrace(m[1]);}
async function refresh(){
 try{const d=await (await fetch('/api/dashboard?max_age_ms=10000')).json();
  document.getElementById('version').textContent='config version '+d.config_version;
  document.getElementById('status').textContent=d.proxies.length+' proxies connected, '+
   d.edges.length+' edges, '+d.quarantined.length+' quarantined objects'+(d.scrape?
   '; scraped '+d.scrape.scraped+'/'+d.scrape.targets+' proxies '+
   new Date(d.scrape.at_ms).toLocaleTimeString()+(d.scrape.interval_ms?', every '+
   d.scrape.interval_ms/1000+' s':''):'')+(d.source==='prometheus'?'; metrics from Prometheus at '+
   d.prometheus+(d.prometheus_errors.length?' ('+d.prometheus_errors.join('; ')+')':''):'');
  draw(d.edges);
  fill('edges',d.edges.map(e=>({cells:[e.source,e.destination,e.service,num(e.rps,2),
   num(e.error_percent,1),e.requests,e.mtls?'yes':'no'],cls:e.error_percent>0?'bad':'',
   data:{source:e.source,destination:e.destination}})));
  fill('services',d.services.map(s=>({cells:[s.service,num(s.rps,2),num(s.error_percent,1),
   num(s.p99_ms!==null&&s.p99_ms!==undefined?s.p99_ms:s.p99_ms_total,1),s.requests,s.errors,''],
   data:{service:s.service}})));
  document.querySelectorAll('#services tbody tr').forEach((tr,i)=>
   tr.lastChild.replaceChildren(spark(d.services[i].history||[])));
  fill('proxies',d.proxies.map(p=>({cells:[p.id,p.role,p.version,p.acked_version+'/'+p.sent_version,
   p.last_response+(p.last_error?': '+p.last_error:''),
   p.certificate_not_after?new Date(p.certificate_not_after*1000).toISOString():'-',
   p.scraped?'yes':'no'],cls:p.last_response==='NACK'?'bad':'',data:{proxy:p.id}})));
  fill('quarantined',d.quarantined.map(q=>({cells:[q.kind+' '+q.namespace+'/'+q.name,q.where,
   q.problem],cls:'bad'})));
  fill('denials',d.denials.map(x=>({cells:[x.source+'.'+x.source_namespace,x.principal,
   x.destination,x.code,x.count],cls:'bad'})));
  await refreshTraces();
  document.body.dataset.loaded='true';
 }catch(e){document.getElementById('status').textContent='cannot reach the control plane: '+e;}}
refresh();setInterval(refresh,2000);
</script></body></html>
)HTML";

}  // namespace

std::string_view dashboardPage() {
  return kPage;
}

}  // namespace halyard::control
