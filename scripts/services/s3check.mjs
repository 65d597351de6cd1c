#!/usr/bin/env node
// Dependency-free S3 check (SigV4 via node:crypto, path-style URLs) used by scripts/services.sh.
//   node s3check.mjs ping      -> ListBuckets must answer 200 with a signed request
//   node s3check.mjs selftest  -> bucket create/list/delete, PutObject, HeadObject, ListObjectsV2,
//                                 DeleteObjects (multi), DeleteObject, plus a rejected bad signature
// Reads DEDUP_LAB_S3_ENDPOINT, DEDUP_LAB_S3_ACCESS_KEY, DEDUP_LAB_S3_SECRET_KEY.
import { createHash, createHmac, randomBytes } from 'node:crypto';

const endpoint = new URL(process.env.DEDUP_LAB_S3_ENDPOINT || 'http://127.0.0.1:58333');
const accessKey = process.env.DEDUP_LAB_S3_ACCESS_KEY || 'dedupadmin';
const secretKey = process.env.DEDUP_LAB_S3_SECRET_KEY || 'dedup-s3-Secr3t!';
const region = 'us-east-1';

const sha256hex = (d) => createHash('sha256').update(d).digest('hex');
const hmac = (k, d) => createHmac('sha256', k).update(d).digest();
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

async function s3(method, path, { query = {}, body = Buffer.alloc(0), headers = {}, secret = secretKey } = {}) {
  const now = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = now.slice(0, 8);
  const payloadHash = sha256hex(body);
  const canonPath = path.split('/').map(enc).join('/');
  const canonQuery = Object.keys(query).sort().map((k) => `${enc(k)}=${enc(query[k])}`).join('&');
  const h = { host: endpoint.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': now };
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = String(v);
  const names = Object.keys(h).sort();
  const canonHeaders = names.map((k) => `${k}:${h[k].trim()}\n`).join('');
  const signed = names.join(';');
  const creq = [method, canonPath, canonQuery, canonHeaders, signed, payloadHash].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', now, scope, sha256hex(creq)].join('\n');
  let key = hmac('AWS4' + secret, day);
  for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part);
  const sig = createHmac('sha256', key).update(sts).digest('hex');
  const reqHeaders = { ...h, authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${signed}, Signature=${sig}` };
  delete reqHeaders.host;
  const url = `${endpoint.origin}${canonPath}${canonQuery ? '?' + canonQuery : ''}`;
  const res = await fetch(url, { method, headers: reqHeaders, body: body.length ? body : undefined });
  const text = method === 'HEAD' ? '' : await res.text();
  return { status: res.status, headers: res.headers, text };
}

function expect(cond, what, res) {
  if (!cond) {
    console.error(`s3check: ${what} failed${res ? `: HTTP ${res.status} ${res.text.slice(0, 300)}` : ''}`);
    process.exit(1);
  }
}

const mode = process.argv[2] || 'ping';
try {
  if (mode === 'ping') {
    const r = await s3('GET', '/');
    expect(r.status === 200 && r.text.includes('ListAllMyBucketsResult'), 'ListBuckets', r);
    console.log('ok');
  } else if (mode === 'selftest') {
    const bucket = `dedup-lab-selftest-${randomBytes(4).toString('hex')}`;
    let r = await s3('PUT', `/${bucket}`);
    expect(r.status === 200, 'CreateBucket', r);
    r = await s3('GET', '/');
    expect(r.status === 200 && r.text.includes(`<Name>${bucket}</Name>`), 'ListBuckets shows bucket', r);
    const body = randomBytes(100000);
    for (const k of ['a/one.bin', 'a/two.bin', 'b three.bin']) {
      r = await s3('PUT', `/${bucket}/${k}`, { body, headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status === 200, `PutObject ${k}`, r);
    }
    r = await s3('HEAD', `/${bucket}/a/one.bin`);
    expect(r.status === 200 && Number(r.headers.get('content-length')) === body.length, 'HeadObject', r);
    r = await s3('GET', `/${bucket}/a/two.bin`);
    expect(r.status === 200 && r.text.length > 0, 'GetObject', r);
    r = await s3('GET', `/${bucket}`, { query: { 'list-type': '2', prefix: 'a/' } });
    expect(r.status === 200 && (r.text.match(/<Key>/g) || []).length === 2 && r.text.includes('<Size>100000</Size>'), 'ListObjectsV2', r);
    const del = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>' +
      '<Object><Key>a/one.bin</Key></Object><Object><Key>a/two.bin</Key></Object></Delete>');
    r = await s3('POST', `/${bucket}`, { query: { delete: '' }, body: del,
      headers: { 'content-md5': createHash('md5').update(del).digest('base64'), 'content-type': 'application/xml' } });
    expect(r.status === 200 && !r.text.includes('<Error>'), 'DeleteObjects', r);
    r = await s3('DELETE', `/${bucket}/b three.bin`);
    expect(r.status === 204 || r.status === 200, 'DeleteObject', r);
    r = await s3('GET', `/${bucket}`, { query: { 'list-type': '2' } });
    expect(r.status === 200 && !r.text.includes('<Key>'), 'ListObjectsV2 empty after deletes', r);
    r = await s3('GET', '/', { secret: 'wrong-secret' });
    expect(r.status === 403, 'bad signature is rejected', r);
    r = await s3('DELETE', `/${bucket}`);
    expect(r.status === 204 || r.status === 200, 'DeleteBucket', r);
    console.log('ok selftest');
  } else {
    console.error('usage: s3check.mjs ping|selftest');
    process.exit(2);
  }
} catch (e) {
  console.error(`s3check: ${e.cause?.code || e.message}`);
  process.exit(1);
}
