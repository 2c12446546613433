package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// The /docs page renders /openapi.json with a small inline script: it needs
// no network beyond the server itself, so it works offline and behind
// firewalls. Its CSP allows exactly its own script and style, by hash.

const docsStyle = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#fafbfc}
header{background:#1d2b3a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:6px 0 0;opacity:.85;max-width:960px}main{max-width:1100px;margin:0 auto;padding:12px 28px 60px}
h2{margin:28px 0 8px;font-size:18px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
details{background:#fff;border:1px solid #d8dee4;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;font-family:ui-monospace,monospace;font-size:14px}
summary .s{font-family:system-ui,sans-serif;color:#57606a;margin-left:10px}
.m{display:inline-block;width:64px;font-weight:700}.GET{color:#0969da}.POST{color:#1a7f37}.PATCH{color:#9a6700}.DELETE{color:#cf222e}
.b{padding:4px 16px 12px}table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:left;vertical-align:top}
pre{background:#f6f8fa;padding:8px;border-radius:4px;overflow:auto;font-size:12px;max-height:420px}
code{font-family:ui-monospace,monospace}.err{color:#cf222e}a{color:#0969da}header a{color:#9cd3ff}
`

const docsScript = `
(function(){
var main=document.getElementById('api');
function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;if(x!==undefined)e.textContent=x;return e}
function deref(spec,s,seen){seen=seen||{};if(!s)return s;if(s.$ref){var n=s.$ref.split('/').pop();if(seen[n])return {$ref:n};seen[n]=1;var r=deref(spec,spec.components.schemas[n],seen);delete seen[n];return r}
var o=Array.isArray(s)?[]:{};for(var k in s){o[k]=(typeof s[k]==='object'&&s[k]!==null)?deref(spec,s[k],seen):s[k]}return o}
fetch('/openapi.json').then(function(r){return r.json()}).then(function(spec){
document.getElementById('title').textContent=spec.info.title+' '+spec.info.version;
document.getElementById('desc').textContent=spec.info.description||'';
var groups={};
Object.keys(spec.paths).sort().forEach(function(path){var item=spec.paths[path];
['get','post','patch','put','delete'].forEach(function(m){var op=item[m];if(!op)return;var tag=(op.tags||['Other'])[0];(groups[tag]=groups[tag]||[]).push([m.toUpperCase(),path,op])})});
Object.keys(groups).forEach(function(tag){main.appendChild(el('h2','',tag));
groups[tag].forEach(function(g){var d=el('details'),s=el('summary');var mm=el('span','m '+g[0],g[0]);s.appendChild(mm);
s.appendChild(document.createTextNode(g[1]));s.appendChild(el('span','s',g[2].summary||''));d.appendChild(s);
var b=el('div','b');var op=g[2];
if(op.security&&op.security.length)b.appendChild(el('p','','Credentials: Authorization: Bearer <token> or X-API-Key: <key>'));
if(op.parameters&&op.parameters.length){var t=el('table');var h=el('tr');['name','in','type','description'].forEach(function(x){h.appendChild(el('th','',x))});t.appendChild(h);
op.parameters.forEach(function(p){var r=el('tr');var sc=p.schema||{};var ty=sc.type||'';if(sc.enum)ty+=' '+sc.enum.join('|');if(sc.minimum!==undefined)ty+=' >='+sc.minimum;if(sc.maximum!==undefined)ty+=' <='+sc.maximum;if(sc.default!==undefined)ty+=' default '+sc.default;
[p.name+(p.required?' *':''),p.in,ty,p.description||''].forEach(function(x){r.appendChild(el('td','',String(x)))});t.appendChild(r)});b.appendChild(t)}
if(op.requestBody){b.appendChild(el('h4','','Request body'));var c=op.requestBody.content['application/json'];b.appendChild(el('pre','',JSON.stringify(deref(spec,c&&c.schema),null,1)))}
Object.keys(op.responses||{}).forEach(function(code){var r=op.responses[code];var c=r.content&&(r.content['application/json']||r.content['application/problem+json']);
b.appendChild(el('h4','',code+' '+(r.description||'')));if(c&&code<400)b.appendChild(el('pre','',JSON.stringify(deref(spec,c.schema),null,1)))});
d.appendChild(b);main.appendChild(d)})})
}).catch(function(e){main.appendChild(el('p','err','Could not load /openapi.json: '+e))});
})();
`

const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>contextd API reference</title>
<style>` + docsStyle + `</style>
</head>
<body>
<header><h1 id="title">contextd API</h1><p id="desc"></p>
<p>The OpenAPI 3.1 document: <a href="/openapi.json">/openapi.json</a> (also <a href="/openapi.yaml">/openapi.yaml</a>).</p></header>
<main id="api"><noscript><p>This page needs JavaScript to render <a href="/openapi.json">/openapi.json</a>; the document itself is plain JSON.</p></noscript></main>
<script>` + docsScript + `</script>
</body>
</html>`

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// docsCSP allows the page's own inline script and style, fetching from the
// server itself, and nothing else.
func docsCSP() string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + cspHash(docsScript),
		"style-src " + cspHash(docsStyle),
		"connect-src 'self'",
		"img-src 'self' data:",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func (s *server) docs(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(docsPage))
}
