<# richcoex sync-server collector (read-only). Run on the DirSync / Azure AD Connect /
   Entra Connect server as a local administrator:
     powershell -ExecutionPolicy Bypass -File Get-RichCoexSyncState.ps1 -Out C:\Temp\richcoex-sync-state.json
   Prints one JSON document (schema richcoex.syncstate/1) and writes it to -Out.
   Anything this version lacks becomes null plus a note; nothing is changed. #>
param([string]$Out = "richcoex-sync-state.json")
$ErrorActionPreference = 'Stop'
$notes = New-Object System.Collections.Generic.List[string]
function Ask([string]$command, [scriptblock]$block) {
    if (-not (Get-Command $command -ErrorAction SilentlyContinue)) { $notes.Add("$command is not available in this version"); return $null }
    try { return & $block } catch { $notes.Add("$command failed: $($_.Exception.Message)"); return $null }
}
foreach ($m in 'ADSync', 'DirSync') { Import-Module $m -ErrorAction SilentlyContinue }

$key = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Azure AD Connect' -ErrorAction SilentlyContinue
$product = if ($key) { @{ name = 'Azure AD Connect'; version = "$($key.Version)" } }
           elseif (Get-Module DirSync) { @{ name = 'DirSync'; version = $null } } else { $null }
if ($product -and $product.version -and [version]$product.version -ge [version]'2.1.20.0') { $product.name = 'Entra Connect Sync' }

$global = Ask 'Get-ADSyncGlobalSettings' { Get-ADSyncGlobalSettings }
$hybrid = if ($global) { "$(($global.Parameters | Where-Object Name -eq 'Microsoft.OptionalFeature.HybridExchange').Value)" -eq 'True' }
          else { Ask 'Get-MSOnlineRichCoexistence' { [bool](Get-MSOnlineRichCoexistence) } }
$sched = Ask 'Get-ADSyncScheduler' { Get-ADSyncScheduler }
$connectors = @(Ask 'Get-ADSyncConnector' { Get-ADSyncConnector | Where-Object ConnectorTypeName -eq 'AD' } | ForEach-Object {
    $p = @{}; $_.ConnectivityParameters | ForEach-Object { $p[$_.Name] = $_.Value }
    @{ name = $_.Name; forest = $p['forest-name']; account = "$($p['forest-login-domain'])\$($p['forest-login-user'])" } })

$errors = New-Object System.Collections.Generic.List[object]
$csexport = Join-Path (Split-Path (Get-Module ADSync).Path -ErrorAction SilentlyContinue) '..\..\Bin\csexport.exe'
foreach ($c in $connectors) {
    if (-not $c -or -not (Test-Path $csexport)) { $notes.Add('csexport.exe not found: export errors not read'); break }
    $xml = Join-Path $env:TEMP "richcoex-$([guid]::NewGuid()).xml"
    & $csexport $c.name $xml /f:e | Out-Null
    foreach ($o in ([xml](Get-Content $xml -Raw)).'cs-objects'.'cs-object') {
        $e = $o.'export-errordetail'.'export-status'.'cd-error'
        $errors.Add(@{ connector = $c.name; dn = $o.'cs-dn'; error_type = "$($e.'error-code')"
                       code = if ("$($e.'error-literal')$($e.'server-error-detail')" -match '8344|00002098') { 8344 } else { $null }
                       attribute = $null; detail = "$($e.'server-error-detail')"; time = "$($o.'export-errordetail'.'date-occurred')" }) }
    Remove-Item $xml -ErrorAction SilentlyContinue
}
$doc = [ordered]@{ schema = 'richcoex.syncstate/1'; collected_at = (Get-Date).ToUniversalTime().ToString('o'); computer = $env:COMPUTERNAME
    product = $product; writeback = @{ hybrid_exchange = $hybrid }
    scheduler = if ($sched) { @{ enabled = [bool]$sched.SyncCycleEnabled; cycle_in_progress = [bool]$sched.SyncCycleInProgress; next_run = "$($sched.NextSyncCycleStartTimeInUTC)" } } else { $null }
    connectors = $connectors; export_errors = $errors; notes = $notes }
$json = $doc | ConvertTo-Json -Depth 6
Set-Content -Path $Out -Value $json -Encoding UTF8
$json
