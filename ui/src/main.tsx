/** The web UI: the shell (navigation, the token screen on 401) and the hash routes of the pages. */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { onUnauthorized, token } from './api.js'
import { useRoute } from './util.js'
import { Connect } from './pages/connect.js'
import { Dashboard } from './pages/dashboard.js'
import { Files, FileDetail } from './pages/files.js'
import { Folder } from './pages/folder.js'
import { Upload } from './pages/upload.js'
import { Pins } from './pages/pins.js'
import { Network } from './pages/network.js'
import { Tokens } from './pages/tokens.js'
import { Audit } from './pages/audit.js'
import './style.css'

const NAV: Array<[string, string]> = [
  ['', 'Dashboard'], ['files', 'Files'], ['upload', 'Upload'], ['pins', 'Pins'],
  ['network', 'Network'], ['tokens', 'Tokens'], ['audit', 'Audit'], ['connect', 'Token']
]

function Page ({ route }: { route: string[] }) {
  const [first, ...rest] = route
  switch (first) {
    case undefined: return <Dashboard />
    case 'files': return rest[0] === undefined ? <Files /> : <FileDetail hash={rest[0]} />
    case 'folders': return <Folder hash={rest[0] ?? ''} path={rest.slice(1)} />
    case 'upload': return <Upload />
    case 'pins': return <Pins />
    case 'network': return <Network />
    case 'tokens': return <Tokens />
    case 'audit': return <Audit />
    case 'connect': return <Connect onConnected={() => { location.hash = '#/' }} />
    default: return <p>No such page. <a href='#/'>Go to the dashboard</a>.</p>
  }
}

function App () {
  const route = useRoute()
  const [refused, setRefused] = useState<string | undefined>()
  useEffect(() => onUnauthorized((message) => setRefused(message)), [])
  const current = route[0] === 'folders' ? 'files' : (route[0] ?? '')
  return (
    <>
      <a class='skip' href='#main'>Skip to content</a>
      <header>
        <a class='brand' href='#/'>OpenHashDB</a>
        <nav aria-label='Pages'>
          {NAV.map(([path, label]) => (
            <a key={path} href={`#/${path}`} aria-current={current === path && refused === undefined ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
      </header>
      <main id='main' tabIndex={-1}>
        {refused !== undefined
          ? <Connect reason={refused} onConnected={() => setRefused(undefined)} />
          : <Page key={route.join('/')} route={route} />}
      </main>
      <footer>{token.get() === undefined ? 'No token' : 'Token set'} · <a href='/docs' target='_blank' rel='noreferrer'>API docs</a></footer>
    </>
  )
}

render(<App />, document.getElementById('app')!)
